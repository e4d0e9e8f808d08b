from services.common.wsgi import serve

app = serve("orgstructure")
