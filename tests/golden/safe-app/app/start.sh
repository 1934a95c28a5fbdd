#!/bin/sh
set -e
python manage.py migrate
exec gunicorn app.wsgi --bind 0.0.0.0:8000
