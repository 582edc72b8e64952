"""Ground floor: settings, logging, Redis clients and the WSGI server.

Every package may import ``core``; ``core`` imports no other package of this project.
"""
