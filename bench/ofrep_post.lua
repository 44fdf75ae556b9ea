-- wrk script: POST an OFREP evaluation request with a token.
-- Usage: wrk -s bench/ofrep_post.lua URL -- TOKEN
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"context":{"targetingKey":"user-42","email":"jo@acme.test","country":"US","plan":"pro"}}'
function init(args)
  if args[1] then wrk.headers["Authorization"] = "Bearer " .. args[1] end
end
