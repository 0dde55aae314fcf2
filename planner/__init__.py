"""aopctl: Cloudflare Authenticated Origin Pulls as code.

Data flows one way: files -> config -> graph -> (state + live refresh) -> diff -> plan -> apply.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("aopctl")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+unknown"
