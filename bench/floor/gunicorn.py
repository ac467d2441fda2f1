"""The app's gunicorn settings (config/gunicorn.py) without its hooks: one worker of 4 threads."""

workers = 1
worker_class = "gthread"
threads = 4
timeout = 25
graceful_timeout = 20
keepalive = 75
preload_app = True
control_socket_disable = True
accesslog = None
errorlog = "-"
