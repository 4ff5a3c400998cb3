"""Job calls of the ModelArts API: ListJobs and the undocumented `GET /jobs/{id}` with its fallback.

Owns: paging ListJobs with `limit`/`offset` until `count` is reached, and `get_job`, which asks the job
endpoint Terraform uses and falls back to ListJobs for the pool when that endpoint answers 404 (after an
`APIGW.0101` it stops asking). Must not: decide whether a submitted request was accepted (that decision
lives with the caller) or write anything.
"""

from __future__ import annotations

from typing import Any

from planner.errors import ApiStatusError
from planner.files import JsonObject
from planner.modelarts.base import ClientBase, items_of, log


class JobCalls(ClientBase):
    """ListJobs and GetJob; raw PoolJob objects."""

    _job_endpoint_missing: bool = False

    def list_jobs(self, *, pool_name: str | None = None, job_type: str | None = None,
                  since_ms: int | None = None, until_ms: int | None = None,
                  page_size: int = 100) -> list[JsonObject]:
        """ListJobs (optionally for one pool): every job, following limit/offset until count is reached."""
        jobs: list[JsonObject] = []
        while True:
            params: dict[str, Any] = {
                "resource": "pools" if pool_name else None, "name": pool_name, "type": job_type,
                "since": since_ms, "until": until_ms, "limit": page_size, "offset": len(jobs) or None,
            }
            body = self._get_json(self._v2("jobs"), params)
            page = items_of(body, "ListJobs")
            jobs.extend(page)
            count = body.get("count")
            if not page or not isinstance(count, int) or len(jobs) >= count:
                return jobs

    def get_job(self, job_id: str, *, pool_name: str | None = None) -> JsonObject:
        """The job by id: `GET /v2/{project}/jobs/{id}`, falling back to ListJobs (for `pool_name`) on 404."""
        if not self._job_endpoint_missing:
            try:
                return self._get_json(self._v2("jobs", job_id))
            except ApiStatusError as exc:
                if exc.status != 404:
                    raise
                # APIGW.0101: the undocumented endpoint is not published here; stop asking for it.
                self._job_endpoint_missing = exc.error_code == "APIGW.0101"
                log.debug("GetJob %s answered 404 (%s); falling back to ListJobs", job_id, exc.error_code)
        for job in self.list_jobs(pool_name=pool_name):
            if job.get("jobId") == job_id:
                return job
        path = self._v2("jobs")
        where = f" for pool {pool_name}" if pool_name else ""
        raise ApiStatusError(f"ModelArts API GET {path}: job {job_id} not found{where}", status=404,
                             error_msg="job not found", method="GET", path=path)
