"""The course's test and benchmark harness (not needed by the lessons or by grading).

* :mod:`.nbrun`: execute a lesson notebook headless and drive every widget it created;
* :mod:`.jlab`: JupyterLab on localhost driven by the system Chromium through Playwright;
* :mod:`.hub`: a real JupyterHub from deploy/ with unix users, for the end-to-end hub test.
"""
