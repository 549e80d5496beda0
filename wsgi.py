"""WSGI entry point: ``gunicorn wsgi:app``; also ``FLASK_APP=wsgi`` for the flask CLI."""

from app.factory import create_app

app = create_app()
