"""The staff control panel: server-rendered pages over the services of both apps."""
