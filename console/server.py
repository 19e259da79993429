"""Serving the console with a production WSGI server.

Plain HTTP (the default, and behind a TLS reverse proxy): waitress. With a certificate and key
(``--tls-cert/--tls-key``): cheroot with Python's own TLS, since waitress has no TLS of its own.
Both run a pool of threads in this one process.
"""
from __future__ import annotations

import ssl
from pathlib import Path

from pipeline.errors import UserError

THREADS = 8


def _check_tls(cert: str, key: str) -> None:
    for what, path in (("certificate", cert), ("key", key)):
        if not Path(path).is_file():
            raise UserError(f"The TLS {what} file {path} does not exist; check the path given to --tls-"
                            f"{'cert' if what == 'certificate' else 'key'}.")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise UserError(f"The TLS certificate and key cannot be used together ({exc.__class__.__name__}); "
                        "give a PEM certificate and its matching private key.") from None


def serve(root: Path | str, *, host: str = "127.0.0.1", port: int = 8765, tls_cert: str | None = None,
          tls_key: str | None = None, trusted_proxy: str | None = None, ready=None) -> None:
    """Serve the console for the workspace at ``root`` until stopped. ``ready(url)`` is called once listening."""
    from console.app import create_app

    if bool(tls_cert) != bool(tls_key):
        raise UserError("--tls-cert and --tls-key go together: give both files (or neither).")
    if tls_cert:
        _check_tls(tls_cert, tls_key)
    app = create_app(root, secure_cookies=bool(tls_cert))
    shown = f"[{host}]" if ":" in host else host
    if tls_cert:
        _serve_tls(app, host, port, tls_cert, tls_key, shown, ready)
    else:
        _serve_http(app, host, port, trusted_proxy, shown, ready)


def _serve_http(app, host, port, trusted_proxy, shown, ready) -> None:
    from waitress.server import create_server

    # Waitress reads a whole request body (to a temporary file) before the console sees the request:
    # without this limit anyone, signed in or not, could make it spool up to 1 GB per request.
    options = {"threads": THREADS, "ident": "console", "clear_untrusted_proxy_headers": True,
               "max_request_body_size": app.config["MAX_CONTENT_LENGTH"]}
    if trusted_proxy:
        options.update(trusted_proxy=trusted_proxy, trusted_proxy_count=1,
                       trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto"})
    try:
        server = create_server(app, host=host, port=port, **options)
    except OSError as exc:
        raise UserError(f"Cannot listen on {host}:{port} ({exc.strerror or 'the address is in use or not available'}); "
                        "choose another port with --port.") from None
    if ready:
        ready(f"http://{shown}:{server.effective_port}/")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


def _serve_tls(app, host, port, cert, key, shown, ready) -> None:
    from cheroot import wsgi
    from cheroot.ssl.builtin import BuiltinSSLAdapter

    server = wsgi.Server((host, port), app, numthreads=THREADS, server_name="console")
    server.max_request_body_size = app.config["MAX_CONTENT_LENGTH"]  # (see _serve_http)
    server.ssl_adapter = BuiltinSSLAdapter(cert, key)
    try:
        server.prepare()
    except OSError as exc:
        raise UserError(f"Cannot listen on {host}:{port} ({exc.strerror or 'the address is in use or not available'}); "
                        "choose another port with --port.") from None
    if ready:
        ready(f"https://{shown}:{server.bind_addr[1]}/")
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
