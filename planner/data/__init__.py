"""Data files shipped inside the package (read with `importlib.resources`).

- `cloudflare_origin_pull_ca.pem`: Cloudflare's origin-pull CA, which signs the shared client
  certificate of global AOP (cloudflare-api-notes.md §10). Its fingerprint, serial and expiry
  are checked by tests/test_origin_ca.py.
"""
