// Swagger UI, from the files the platform ships: the API documentation works
// on school networks that filter outside sites.
window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#ui", deepLinking: true});
