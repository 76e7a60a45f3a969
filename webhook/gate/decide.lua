-- The pre-send decision for one recipient, from Redis alone, in one atomic step.
--
-- KEYS = [suppressions hash, frequency zset per identifier ...]
-- ARGV = [cap (0 = none), window_ms, send id, identity key per identifier ...]
--
-- Refuses if any identifier is suppressed; else, with a cap, refuses if any
-- identifier already had `cap` allowed sends in the last window; else records this
-- send against every identifier and allows. Returns {allowed 0/1, reason, now_ms}.
--
-- The counts are written to memory only, not to the append-only file: with
-- `appendfsync always` every allowed send would otherwise wait for a disk flush.
-- PreSendGate's journal writes them again durably, in batches (persist.lua).
redis.set_repl(redis.REPL_NONE)
local cap, window, send_id = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local now = now_ms()
for i = 4, #ARGV do
    if redis.call("hexists", KEYS[1], ARGV[i]) == 1 then
        return {0, "suppressed: " .. ARGV[i]}
    end
end
if cap > 0 then
    for i = 2, #KEYS do
        redis.call("zremrangebyscore", KEYS[i], "-inf", now - window)
        if redis.call("zcard", KEYS[i]) >= cap then
            return {0, "frequency cap: " .. ARGV[i + 2] .. " had " .. cap .. " sends in 24 h"}
        end
    end
    for i = 2, #KEYS do
        redis.call("zadd", KEYS[i], now, send_id)
        redis.call("pexpire", KEYS[i], window)
    end
end
return {1, "", now}
