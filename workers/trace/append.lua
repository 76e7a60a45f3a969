-- append_trace(trace, entry, ttl, max_entries, settles, repeats, final): add one entry
-- to an event's trace, keeping its newest max_entries and its time to live (ttl seconds).
--
-- An entry that settles an attempt (settles = "1": its outcome) takes the place of the
-- attempt's "taken" entry when that is the newest one: a trace then holds one entry per
-- finished attempt, and an attempt under way shows as the "taken" at its end. A wait
-- that repeats (repeats = its kind, e.g. "postponed": an event polling for its user's
-- profile update every few hundred ms) replaces the same wait just before it, so
-- waiting does not push the attempts out of the trace. An entry after which nothing is
-- in flight (final = "1": delivered, dead-lettered, batched, a duplicate) lists the
-- trace in $trace_settled, scored by now, for the move to SQL (workers/trace/mover.py).
-- The workers append through trace.lua, the receiver (a duplicate submission) from its
-- enqueue script; both put the clock (now_ms) before this.
local function append_trace(trace, entry, ttl, max_entries, settles, repeats, final)
    local newest = settles == "1" and redis.call("lindex", trace, -1)
    if newest and string.find(newest, '"do":"taken"', 1, true) then
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
    if final == "1" then
        redis.call("zadd", trace_settled, now_ms(), trace)
    end
end
