"""The read-only web overview (issue 15): aiohttp + Jinja2, served by `run` and `web`."""
