-- Writes again, this time through the append-only file (and to replicas), the sends
-- that decide.lua counted in memory only. Redis only passes on writes that change
-- something, and adding a member that is already there changes nothing, so each one
-- is removed and added back: the set ends as it was, and the file gets both.
--
-- KEYS = frequency zsets
-- ARGV = [window_ms, then per key: the send's time (ms), its send id]
--
-- Each key expires a window after the send, as decide.lua left it in memory; a send
-- already older than the window is past counting and is skipped.
local window = tonumber(ARGV[1])
local now = now_ms()
local written = 0
for i, key in ipairs(KEYS) do
    local at, send_id = tonumber(ARGV[2 * i]), ARGV[2 * i + 1]
    if at + window > now then
        redis.call("zrem", key, send_id)
        redis.call("zadd", key, at, send_id)
        redis.call("pexpireat", key, at + window)
        written = written + 1
    end
end
return written
