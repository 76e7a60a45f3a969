-- Append one entry to an event's trace, keeping its newest entries and its time to live.
--
-- KEYS = [trace]; ARGV = [entry, ttl_s, max_entries, settles, repeats]
--
-- An entry that settles an attempt (settles = "1": its outcome) takes the place of the
-- attempt's "taken" entry when that is the newest one: a trace then holds one entry per
-- finished attempt, and an attempt under way shows as the "taken" at its end. A wait
-- that repeats (repeats = its kind, e.g. "postponed": an event polling for its user's
-- profile update every few hundred ms) replaces the same wait just before it, so
-- waiting does not push the attempts out of the trace.
local trace = KEYS[1]
local entry, ttl, max_entries, settles = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local repeats = ARGV[5]
local newest = redis.call("lindex", trace, -1)
if settles == "1" and newest and string.find(newest, '"do":"taken"', 1, true) then
    redis.call("lset", trace, -1, entry)
    local before = redis.call("lindex", trace, -2)
    if repeats ~= "" and before and string.find(before, '"do":"' .. repeats .. '"', 1, true) then
        redis.call("lset", trace, -2, "")
        redis.call("lrem", trace, 1, "")
    end
else
    redis.call("rpush", trace, entry)
    redis.call("ltrim", trace, -max_entries, -1)
end
redis.call("expire", trace, ttl)
