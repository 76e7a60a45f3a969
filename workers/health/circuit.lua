-- One platform's circuit breaker and call record, shared by every worker process.
--
-- KEYS = [state (hash), calls (hash: "<bucket>:ok" / "<bucket>:fail" -> count)]
-- ARGV = [command, probe_ms, bucket_ms, keep_ms, min_calls, failing_ms, error]
--
-- state holds opened (ms, only while open), probe_at (ms: when the next probe may
-- go), failing_since (ms of the first failure since the last success), failed_calls
-- (failures since the last success), last_error and last_error_at.
--
-- "admit": {0} closed, go; {1} open and this caller is the probe, go; {2, ms} open,
-- wait that long for the next probe. Only one caller per probe interval is told 1.
-- "ok" / "fail" record one call's outcome, answering {transition, since_ms}:
-- transition is "closed" when a success closed an open circuit (since_ms: how long it
-- was open), "opened" when a failure opened it (since_ms: how long calls have been
-- failing), "" otherwise. A failure opens the circuit when every call has failed for
-- failing_ms and at least min_calls calls in a row failed. Failures further apart
-- than failing_ms start a new streak: two failed calls a day apart are not a day of
-- failing.
local state, calls = KEYS[1], KEYS[2]
local command = ARGV[1]
local probe_ms, bucket_ms, keep_ms = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local min_calls, failing_ms = tonumber(ARGV[5]), tonumber(ARGV[6])
local now = now_ms()

if command == "admit" then
    if redis.call("HEXISTS", state, "opened") == 0 then
        return {0}
    end
    local probe_at = tonumber(redis.call("HGET", state, "probe_at")) or 0
    if now >= probe_at then
        redis.call("HSET", state, "probe_at", now + probe_ms)
        return {1}
    end
    return {2, probe_at - now}
end

local function count(outcome)
    local bucket = math.floor(now / bucket_ms)
    if redis.call("HINCRBY", calls, bucket .. ":" .. outcome, 1) == 1 then
        local oldest = math.floor((now - keep_ms) / bucket_ms)
        for _, name in ipairs(redis.call("HKEYS", calls)) do
            if tonumber(string.match(name, "^(%d+):")) < oldest then
                redis.call("HDEL", calls, name)
            end
        end
    end
    redis.call("PEXPIRE", calls, keep_ms)
end

count(command)
if command == "ok" then
    redis.call("HDEL", state, "failing_since", "failed_calls")
    local opened = tonumber(redis.call("HGET", state, "opened"))
    if opened then
        redis.call("HDEL", state, "opened", "probe_at")
        return {"closed", now - opened}
    end
    return {"", 0}
end

local previous = tonumber(redis.call("HGET", state, "last_error_at"))
if not previous or now - previous > failing_ms then
    redis.call("HSET", state, "failing_since", now, "failed_calls", 0)
else
    redis.call("HSETNX", state, "failing_since", now)
end
local failed_calls = redis.call("HINCRBY", state, "failed_calls", 1)
redis.call("HSET", state, "last_error", ARGV[7], "last_error_at", now)
if redis.call("HEXISTS", state, "opened") == 1 then
    return {"", 0}
end
local failing_for = now - tonumber(redis.call("HGET", state, "failing_since"))
if failing_for >= failing_ms and failed_calls >= min_calls then
    redis.call("HSET", state, "opened", now, "probe_at", now + probe_ms)
    return {"opened", failing_for}
end
return {"", 0}
