-- A shared sliding-window rate limit with multiplicative decrease on 429.
--
-- KEYS = [grants (zset: grant id -> time ms), state (hash: floor, since)]
-- ARGV = [command, ceiling, window_ms, min_rate, decrease, recovery_per_s, quiet_ms, grant_id]
--
-- The rate in force is the ceiling, or after a 429 a lower floor that climbs back
-- linearly (recovery_per_s per second) once quiet_ms have passed since the 429.
-- "acquire" grants a slot if fewer than floor(rate) grants fall in the last window,
-- answering {0, rate}; otherwise {ms to wait, rate}. "sent" stamps a grant again
-- with the time now, once its request is known to have reached the platform.
-- "slow_down" lowers the rate (at most once per window, so a burst of 429s counts
-- once). "rate" only reports.
local grants, state = KEYS[1], KEYS[2]
local command = ARGV[1]
local ceiling, window = tonumber(ARGV[2]), tonumber(ARGV[3])
local min_rate, decrease = tonumber(ARGV[4]), tonumber(ARGV[5])
local recovery, quiet = tonumber(ARGV[6]), tonumber(ARGV[7])

local clock = redis.call("TIME")
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000

local function rate_in_force()
    local floor = tonumber(redis.call("HGET", state, "floor"))
    if not floor then
        return ceiling
    end
    local since = tonumber(redis.call("HGET", state, "since"))
    local climbing = (now - since - quiet) / 1000
    if climbing <= 0 then
        return floor
    end
    local rate = floor + recovery * climbing
    if rate >= ceiling then
        redis.call("DEL", state)
        return ceiling
    end
    return rate
end

local rate = rate_in_force()

if command == "slow_down" then
    local since = tonumber(redis.call("HGET", state, "since"))
    if since and now - since < window then
        return {0, tostring(rate)}
    end
    rate = math.max(min_rate, rate * decrease)
    redis.call("HSET", state, "floor", tostring(rate), "since", tostring(now))
    return {0, tostring(rate)}
elseif command == "rate" then
    return {0, tostring(rate)}
elseif command == "sent" then
    redis.call("ZADD", grants, now, ARGV[8])
    redis.call("PEXPIRE", grants, math.ceil(window * 2))
    return {0, tostring(rate)}
end

local allowed = math.max(1, math.floor(rate))
redis.call("ZREMRANGEBYSCORE", grants, "-inf", now - window)
local count = redis.call("ZCARD", grants)
if count < allowed then
    redis.call("ZADD", grants, now, ARGV[8])
    redis.call("PEXPIRE", grants, math.ceil(window * 2))
    return {0, tostring(rate)}
end
local freeing = redis.call("ZRANGE", grants, count - allowed, count - allowed, "WITHSCORES")
return {math.max(1, math.ceil(tonumber(freeing[2]) + window - now)), tostring(rate)}
