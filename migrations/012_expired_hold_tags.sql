-- 012: an expired hold's event carries the hold's reference and metadata, as its capture
-- and its void do (wallet_apply_one tags those; the expiry is written here, by the hold's
-- first action after its expiry or by the background marker, outside any request).
create or replace function wallet_release_expired(p_user bigint) returns journal[]
language plpgsql as $$
declare
  h record;
  j journal;
  v_rows journal[] := '{}';
begin
  for h in update holds set status = 'expired', closed_at = now()
            where user_id = p_user and status = 'held' and expires_at <= now()
        returning id, currency, amount, destination_user_id, reference, metadata loop
    j := wallet_record(p_user, h.currency, 9::smallint, null, 0::smallint, h.amount, wallet_next_id(),
                       h.destination_user_id, null, h.id, p_held => -h.amount);
    j.reference := h.reference;
    j.metadata := h.metadata;
    v_rows := v_rows || j;
  end loop;
  -- (x, not h: h is this function's loop variable)
  update wallets w set hold_expiry = (select min(x.expires_at) from holds x
                                       where x.user_id = p_user and x.currency = w.currency and x.status = 'held')
   where w.user_id = p_user and w.hold_expiry is not null;
  return v_rows;
end
$$;
