-- wrk script: POST /v1/jobs, a small summarize job (each 202 is a durable insert).
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer " .. (os.getenv("KEY") or "bench")
wrk.body = '{"task_type":"summarize","max_tokens":64,' ..
  '"messages":[{"role":"user","content":"Summarise the quarterly report in two sentences please."}]}'

dofile("bench/wrk/report.lua")
