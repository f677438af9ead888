"""The learner's JupyterLab in a real browser (Playwright driving Debian's Chromium)."""
