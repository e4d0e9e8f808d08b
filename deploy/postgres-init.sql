-- Run once by the postgres image on an empty data directory
-- (/docker-entrypoint-initdb.d). One database and one role per service:
-- a service reads and writes only its own database.
-- FOR LOCAL COMPOSE ONLY: the passwords below are not secrets. In production the
-- databases are created by the DBA with real passwords, and each service gets
-- its own DATABASE_URL from a Secret.
CREATE ROLE sferum_identity     LOGIN PASSWORD 'identity-local';
CREATE ROLE sferum_orgstructure LOGIN PASSWORD 'orgstructure-local';
CREATE ROLE sferum_messaging    LOGIN PASSWORD 'messaging-local';
CREATE ROLE sferum_calls        LOGIN PASSWORD 'calls-local';
CREATE ROLE sferum_moderation   LOGIN PASSWORD 'moderation-local';

CREATE DATABASE sferum_identity     OWNER sferum_identity;
CREATE DATABASE sferum_orgstructure OWNER sferum_orgstructure;
CREATE DATABASE sferum_messaging    OWNER sferum_messaging;
CREATE DATABASE sferum_calls        OWNER sferum_calls;
CREATE DATABASE sferum_moderation   OWNER sferum_moderation;

-- Nobody but the owner connects to a service's database.
REVOKE CONNECT ON DATABASE sferum_identity     FROM PUBLIC;
REVOKE CONNECT ON DATABASE sferum_orgstructure FROM PUBLIC;
REVOKE CONNECT ON DATABASE sferum_messaging    FROM PUBLIC;
REVOKE CONNECT ON DATABASE sferum_calls        FROM PUBLIC;
REVOKE CONNECT ON DATABASE sferum_moderation   FROM PUBLIC;
