# The hub: JupyterHub + the LMS service (a managed service it starts) + both
# spawners. Runs as root because DockerSpawner needs the Docker socket; student
# code never runs here. Build with docker/build-images.sh hub.
ARG BASE_IMAGE=jupyter-lms/base:bookworm
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 PATH=/opt/venv/bin:$PATH
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY host-ca.crt /etc/ssl/certs/host-ca.crt
COPY requirements.txt /tmp/lms/
# jupyterhub-idle-culler and pycurl are what Zero to JupyterHub's hub config expects
# when this image is used as hub.image on Kubernetes.
RUN python3 -m venv /opt/venv \
 && PIP_CERT=/etc/ssl/certs/host-ca.crt pip install --no-cache-dir -r /tmp/lms/requirements.txt \
      jupyterhub-idle-culler pycurl
COPY jupyter_lms-*.whl /tmp/lms/
RUN PIP_CERT=/etc/ssl/certs/host-ca.crt pip install --no-cache-dir --no-deps /tmp/lms/jupyter_lms-*.whl \
 && rm -rf /tmp/lms \
 && ln -s "$(python -c 'import hub_config, os; print(os.path.dirname(hub_config.__file__))')" /srv/hub_config \
 && install -d -o 1000 -g 1000 /srv/jupyterhub /srv/lms-data
# hub state (cookie secret, proxy pid) and the LMS data directory are volumes in
# compose.yaml; uid 1000 may write them too, as the Zero to JupyterHub hub pod runs as 1000
WORKDIR /srv/jupyterhub
# a server, not the demo: no bundled courses or demo users unless LMS_DEMO=1
ENV LMS_DATA_DIR=/srv/lms-data LMS_DEMO=0
EXPOSE 8000
# the LMS service refuses a database behind its code, so migrate before the hub starts it
CMD ["sh", "-c", "lms db upgrade && exec jupyterhub -f /srv/hub_config/jupyterhub_config.py"]
