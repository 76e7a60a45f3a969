-- Suppress the addresses a platform reported (bounces, complaints, unsubscribes), each
-- once, in one atomic step (workers/campaigns/suppressions.py).
--
-- KEYS = [suppressions hash, deletions hash (identity key -> when deleted, s)]
-- ARGV = [(identity key, entry JSON, reported at (s, 0 if unknown)) ...]
--
-- An address already suppressed is left as it is. One whose suppression was deleted
-- stays deleted unless the platform reported it after the deletion. Returns how many
-- were added.
local added = 0
for i = 1, #ARGV, 3 do
    local key, entry, reported = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
    if redis.call("hexists", KEYS[1], key) == 0 then
        local deleted = tonumber(redis.call("hget", KEYS[2], key) or "-1")
        if deleted < 0 or reported > deleted then
            redis.call("hset", KEYS[1], key, entry)
            redis.call("hdel", KEYS[2], key)
            added = added + 1
        end
    end
end
return added
