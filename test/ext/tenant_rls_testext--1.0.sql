-- a member table, created in the extension's schema
CREATE TABLE etr_xmember (id int, tenant_id text NOT NULL, body text);
