-- The cluster inventory: what Kaji built and where its nodes are. Written by the cluster workflows.
CREATE TABLE clusters (
    name         text        PRIMARY KEY,
    zone         text        NOT NULL,
    spec         jsonb       NOT NULL,          -- the manifest last applied (ClusterSpec)
    state        text        NOT NULL DEFAULT 'provisioning'
                 CHECK (state IN ('provisioning', 'ready', 'scaling', 'deleting', 'deleted', 'failed')),
    switch_id    text,
    api_endpoint text,                          -- https://VIP:6443
    nodes        jsonb       NOT NULL DEFAULT '[]', -- [ClusterNode]
    owner_team   text,
    last_run_id  uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
