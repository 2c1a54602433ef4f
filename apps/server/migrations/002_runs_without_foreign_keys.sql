-- Runs are written in bulk (POST /runs/record/bulk writes up to 500 per statement). A foreign key costs one
-- trigger query per row on PostgreSQL (SELECT ... FOR KEY SHARE on the customer and on the workflow), about
-- a sixth of the database's CPU per recorded run. Customers and workflows are never deleted and their ids
-- never change, and every path that writes a run reads its customer and workflow before it
-- writes it, so the two foreign keys of runs go, like the ones events never had.
ALTER TABLE runs DROP CONSTRAINT IF EXISTS runs_customer_id_fkey;
ALTER TABLE runs DROP CONSTRAINT IF EXISTS runs_workflow_id_fkey;
