"""A faithful local Rally Activities API (Flask + SQLite): ``rally-slack sandbox``.

Build it in-process with :func:`sandbox.app.create_app`; each API key is a tenant of its
own (:func:`sandbox.tenants.tenant_for_key`); :data:`sandbox.tenants.DEV_API_KEY` is the
documented development key. See ``sandbox/README.md``.
"""
