"""Settings of the floor project: nothing but the URLs, no apps, no middleware, no database."""

SECRET_KEY = "floor-bench-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "floor.urls"
DATABASES: dict = {}
USE_TZ = True
