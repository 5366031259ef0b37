-- 005: events. Every change of a wallet is already a journal row, numbered per wallet
-- (seq) under the wallet's lock, in the transaction that made the change: the journal
-- is the event log. What is added here is the outbox that tells the relay which
-- wallets have events it has not published to NATS JetStream yet, and where it got to.

-- One row per transaction that changed wallets (written by wallet_notify, with the
-- changes): the relay reads them in order, publishes the named wallets' new events,
-- then deletes them. It is a hint, not the record: the journal is.
create table event_outbox (
  id         bigserial primary key,
  users      bigint[] not null,
  events     integer not null,
  created_at timestamptz not null default now()
);

-- How far the relay has published each wallet's events (published_seq), and the
-- stream sequence of the last one on its subject (stream_seq). JetStream itself is
-- the truth: a relay that starts, or doubts, reads the subject's last message.
create table relay_cursor (
  user_id       bigint primary key,
  published_seq bigint not null,
  stream_seq    bigint not null,
  updated_at    timestamptz not null default now()
);

-- Events of the ledger kept forever (money rows) and events that may be pruned once
-- published (holds, freezes, failed transfers): pruned ones are counted here, so the
-- sequence stays checkable (rows + pruned = version).
alter table wallets add column pruned_events bigint not null default 0;

-- Everything written before this migration is waiting to be published too.
insert into event_outbox (users, events) select array[user_id], version::integer from wallets where version > 0;

create or replace function wallet_notify(p_rows journal[], p_token text) returns void
language plpgsql as $$
declare
  v_pairs bigint[];
  n integer;
  i integer := 0;
begin
  if cardinality(p_rows) = 0 and p_token is null then return; end if;
  if cardinality(p_rows) > 0 then
    insert into event_outbox (users, events)
    values (array(select distinct r.user_id from unnest(p_rows) r), cardinality(p_rows));
  end if;
  v_pairs := array(select x from unnest(p_rows) r, lateral (values (r.user_id), (r.seq)) v(x));
  n := cardinality(v_pairs);
  loop
    perform pg_notify('wallet_changes', (case when i + 400 >= n then '1' else '0' end) || coalesce(p_token, '')
                      || ' ' || array_to_string(v_pairs[i + 1 : i + 400], ','));
    i := i + 400;
    exit when i >= n;
  end loop;
end
$$;

-- Deletes published events that are not ledger entries (kind is null: holds,
-- freezes, failed transfers) and older than p_before, counting them per wallet.
create function wallet_prune_events(p_before timestamptz) returns integer
language plpgsql as $$
declare
  n integer;
begin
  with gone as (
    delete from journal j using relay_cursor c
     where j.user_id = c.user_id and j.seq <= c.published_seq and j.kind is null and j.created_at < p_before
    returning j.user_id),
  counted as (select user_id, count(*) as k from gone group by user_id),
  marked as (update wallets w set pruned_events = w.pruned_events + counted.k from counted
              where w.user_id = counted.user_id returning counted.k)
  select coalesce(sum(k), 0) into n from marked;
  return n;
end
$$;

-- migrate:down
do $$ begin
  raise exception '005_events cannot be undone in place: restore a backup taken before it';
end $$;
