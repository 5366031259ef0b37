-- 015: admin reversals and adjustments take expected_version like every other request
-- that moves money. The wallet judged is the one the action debits: a reversal's
-- receiver of the original (the depositor, the transfer's destination), or, when it only
-- credits (a withdrawal's reversal), the wallet it credits; an adjustment's wallet.
create or replace function wallet_payer_version(o wallet_op) returns bigint
language sql stable as $$
  select case
    when o.k in (1, 2, 3, 4, 5) then
      coalesce((select w.version from wallets w where w.user_id = o.u and w.currency = o.cur), 0)
    when o.k in (6, 7) then
      (select coalesce(w.version, 0) from holds h
         left join wallets w on w.user_id = h.user_id and w.currency = h.currency where h.id = o.r)
    when o.k = 8 then
      (select coalesce(w.version, 0)
         from (select j.user_id, j.currency from journal j
                where j.id = o.r and j.kind is not null
                order by j.direction desc limit 1) t
         left join wallets w on w.user_id = t.user_id and w.currency = t.currency)
    when o.k = 9 then
      coalesce((select w.version from wallets w where w.user_id = o.c and w.currency = o.cur), 0)
    when o.k = 12 then
      (select coalesce(w.version, 0) from fx_quotes q
         left join wallets w on w.user_id = q.user_id and w.currency = q.from_currency
        where q.id = o.r and q.user_id = o.u)
  end
$$;
