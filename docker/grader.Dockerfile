# A grading worker (`lms worker`): takes submissions from the database queue and
# runs them in graders' sandbox (bubblewrap) with the language toolchains Judge0
# ids map to. Stateless: run as many as the queue needs.
ARG BASE_IMAGE=jupyter-lms/base:bookworm
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 PATH=/opt/venv/bin:$PATH
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
      bubblewrap nodejs default-jdk-headless g++ gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY host-ca.crt /etc/ssl/certs/host-ca.crt
COPY requirements.txt /tmp/lms/
RUN python3 -m venv /opt/venv \
 && PIP_CERT=/etc/ssl/certs/host-ca.crt pip install --no-cache-dir -r /tmp/lms/requirements.txt
COPY jupyter_lms-*.whl /tmp/lms/
RUN PIP_CERT=/etc/ssl/certs/host-ca.crt pip install --no-cache-dir --no-deps /tmp/lms/jupyter_lms-*.whl \
 && rm -rf /tmp/lms \
 && useradd -m -u 1001 -s /usr/sbin/nologin grader
# the worker itself is unprivileged; the sandbox gives each run its own namespaces
USER grader
WORKDIR /home/grader
CMD ["lms", "worker"]
