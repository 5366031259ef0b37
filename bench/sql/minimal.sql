-- The physical-limit baseline: the least a transfer can do. Lock both wallets in id
-- order, two updates, one insert of the two entries into a table with nothing but a
-- primary key. Created in the bench database only, beside the service's schema.
create table if not exists minimal_entries (
  id            bigserial primary key,
  user_id       bigint not null,
  amount        bigint not null,
  balance_after bigint not null
);

create or replace function minimal_transfer(p_from bigint[], p_to bigint[], p_amount bigint)
returns integer language plpgsql as $$
declare
  i integer;
  a bigint;
  b bigint;
begin
  perform 1 from wallets where user_id = any (p_from || p_to) order by user_id for update;
  for i in 1 .. cardinality(p_from) loop
    update wallets set balance = balance - p_amount where user_id = p_from[i] and balance >= p_amount
    returning balance into a;
    if a is null then continue; end if;
    update wallets set balance = balance + p_amount where user_id = p_to[i] returning balance into b;
    insert into minimal_entries (user_id, amount, balance_after) values (p_from[i], -p_amount, a), (p_to[i], p_amount, b);
  end loop;
  return cardinality(p_from);
end
$$;
