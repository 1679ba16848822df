"""`perfxl serve`: the bureau's intake web page over the same library as the CLI.

Needs the optional extra: `pip install 'perfxl[serve]'` (Flask, Flask-WTF, waitress).
`store` keeps the state (SQLite + files), `intake` does the work, `web` shows the pages,
`worker` checks each uploaded file in a process with time and memory limits.
"""
