-- wrk script: authenticated POST /posts. The token comes from the TOKEN environment variable.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.body = '{"title":"benchmark post","body":"written by wrk"}'
