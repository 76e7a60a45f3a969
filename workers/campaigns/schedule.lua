-- Create a campaign's follow-up schedule, unless it has one: exactly once.
--
-- KEYS = [the campaign's schedule marker]
-- ARGV = [namespace, marker_ttl_s, (queue, message_id, data, deferred_eta_ms) ...]
--
-- If the marker is new, every message is enqueued (enqueue_message, layout.lua) in the
-- same atomic step, or deferred to the due set if it has a deferred eta (defer_message:
-- due past the horizon, workers/queue/due.py). Returns 1 if the schedule was created,
-- 0 if it existed.
if not redis.call("set", KEYS[1], "1", "NX", "EX", ARGV[2]) then
    return 0
end
for i = 3, #ARGV, 4 do
    if ARGV[i + 3] == "" then
        enqueue_message(ARGV[1], ARGV[i], ARGV[i + 1], ARGV[i + 2])
    else
        defer_message(ARGV[1], ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
    end
end
return 1
