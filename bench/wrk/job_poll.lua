-- wrk script: GET /v1/jobs/{JOB} (a finished job: the poll path without waiting).
wrk.method = "GET"
wrk.headers["authorization"] = "Bearer " .. (os.getenv("KEY") or "bench")
wrk.path = "/v1/jobs/" .. (os.getenv("JOB") or "none")

dofile("bench/wrk/report.lua")
