-- wrk script: GET /healthz (the HTTP layer alone).
dofile("bench/wrk/report.lua")
