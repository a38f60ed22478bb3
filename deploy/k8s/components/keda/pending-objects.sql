-- Objects of unfinished jobs that still need a worker: in batches planned (not yet opened), pending (claimable) or
-- leased (in a worker's hands). Reads the batches table only (object_count per batch), never the objects table, so it
-- stays cheap at any job size. KEDA divides it by targetQueryValue to get the number of workers.
SELECT COALESCE(SUM(b.object_count), 0)::bigint AS pending_objects
FROM batches b
JOIN jobs j ON j.job_id = b.job_id
WHERE j.state <> 'completed'
  AND b.state IN ('planned', 'pending', 'leased')
