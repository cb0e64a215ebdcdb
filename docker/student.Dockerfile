# A student's single-user server: JupyterLab + nbgrader's lab extension + the
# lms_extension server extension and its JupyterLab extension (@jupyter-lms/lms-course,
# installed by the wheel into /opt/venv/share/jupyter/labextensions), run by DockerSpawner
# or KubeSpawner.
# Build with docker/build-images.sh: its context holds the project wheel, the
# wheel's requirements.txt and the host CA bundle (host-ca.crt).
ARG BASE_IMAGE=jupyter-lms/base:bookworm
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 PATH=/opt/venv/bin:$PATH
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
# only pip trusts the host bundle (egress TLS may be intercepted); the system store is untouched
COPY host-ca.crt /etc/ssl/certs/host-ca.crt
# dependencies in their own layer: it is reused while only the project's code changes
COPY requirements.txt /tmp/lms/
RUN python3 -m venv /opt/venv \
 && PIP_CERT=/etc/ssl/certs/host-ca.crt pip install --no-cache-dir -r /tmp/lms/requirements.txt
# libraries lessons need, e.g. --build-arg EXTRA_PIP_PACKAGES="numpy pandas matplotlib"
ARG EXTRA_PIP_PACKAGES=""
RUN if [ -n "$EXTRA_PIP_PACKAGES" ]; then \
      PIP_CERT=/etc/ssl/certs/host-ca.crt pip install --no-cache-dir $EXTRA_PIP_PACKAGES; fi
COPY jupyter_lms-*.whl /tmp/lms/
# the .pyc files pip compiles are kept on purpose: without them every spawn recompiles (~6 s)
RUN PIP_CERT=/etc/ssl/certs/host-ca.crt pip install --no-cache-dir --no-deps /tmp/lms/jupyter_lms-*.whl \
 && ln -s "$(python3 -c 'import lms_extension, os; print(os.path.dirname(lms_extension.__file__))')/labserver/etc/student" \
      /opt/lms-student-config \
 && rm -rf /tmp/lms \
 && useradd -m -u 1000 -s /bin/bash jovyan
USER jovyan
WORKDIR /home/jovyan
EXPOSE 8888
CMD ["jupyterhub-singleuser"]
