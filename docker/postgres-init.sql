-- Run once by the postgres image on an empty data directory (see compose.yaml):
-- JupyterHub keeps its tables apart from the LMS's.
CREATE DATABASE jupyterhub OWNER lms;
