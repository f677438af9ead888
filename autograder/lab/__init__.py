"""The learner's side: JupyterLab set-up (and, later, the hub)."""
