-- wrk script for bench:gateway: POST a chat completion; the key (if any) from BENCH_AUTHORIZATION.
wrk.method = "POST"
wrk.body = '{"model":"bench-stub","messages":[{"role":"user","content":"hello there"}]}'
wrk.headers["Content-Type"] = "application/json"
local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end
local extra = os.getenv("BENCH_EXTRA_HEADERS")
if extra then
  for name, value in string.gmatch(extra, "([^:;]+):([^;]*)") do
    wrk.headers[name] = value
  end
end
