"""Tooling for developers and tests, never installed into the image: throwaway
RabbitMQ and PostgreSQL servers, the distributed mode on one machine, the
event catalogue read as data, the helpers tests of every service share, and
for calls throwaway Janus and coturn servers and WebRTC peers. Nothing under
`services/` may import from here."""
