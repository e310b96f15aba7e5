-- A key may carry a request quota: `requests` per `window_secs` seconds, enforced in each API
-- process's memory (GCRA). A shop's client key speaks for thousands of buyers, so a key has no
-- quota unless it is given one.
alter table api_keys
    add column rate_requests integer constraint api_keys_rate_requests_positive check (rate_requests > 0),
    add column rate_window_secs integer constraint api_keys_rate_window_positive check (rate_window_secs > 0),
    add constraint api_keys_rate_whole check ((rate_requests is null) = (rate_window_secs is null));
