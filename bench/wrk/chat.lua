-- wrk script: a small non-streaming OpenAI chat completion.
-- KEY is the Authorization bearer (a virtual key through Aegis, anything for the simulator).
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer " .. (os.getenv("KEY") or "bench")
wrk.body = '{"model":"' .. (os.getenv("MODEL") or "sim-small") ..
  '","messages":[{"role":"user","content":"Summarise the quarterly report in two sentences please."}],"max_tokens":64}'

dofile("bench/wrk/report.lua")
