//! The SQL both stores send, as text plus binds. An event filter (gateway, time
//! range, model, status), the keyset cursor and the event order are described once
//! here and rendered for each backend: placeholders differ (`?` or `$n`), and
//! ClickHouse also bounds its sort key. Each store binds the values its own way
//! (diesel binds, or the ClickHouse client's quoting).

use super::{Cursor, EventFilter, Order, StatusFilter};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
    ClickHouse,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bind {
    Text(String),
    Int(i64),
}

impl From<String> for Bind {
    fn from(value: String) -> Self {
        Bind::Text(value)
    }
}

impl From<i64> for Bind {
    fn from(value: i64) -> Self {
        Bind::Int(value)
    }
}

#[derive(Clone, Debug)]
pub struct Statement {
    dialect: Dialect,
    text: String,
    binds: Vec<Bind>,
}

impl Statement {
    pub fn new(dialect: Dialect, text: impl Into<String>) -> Self {
        Self { dialect, text: text.into(), binds: Vec::new() }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn binds(&self) -> &[Bind] {
        &self.binds
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind(&mut self, value: impl Into<Bind>) -> &mut Self {
        self.binds.push(value.into());
        match self.dialect {
            Dialect::Sqlite | Dialect::ClickHouse => self.text.push('?'),
            Dialect::Postgres => self.text.push_str(&format!("${}", self.binds.len())),
        }
        self
    }

    /// ` WHERE ...`: the events `filter` selects.
    pub fn filter(&mut self, filter: &EventFilter) -> &mut Self {
        self.push(" WHERE gateway_id = ").bind(filter.gateway_id.to_string());
        if self.dialect == Dialect::ClickHouse {
            // The sort key (gateway_id, ts in whole seconds) narrows what is read;
            // ts_ms below makes the bounds exact.
            self.push(" AND ts >= toDateTime(").bind(filter.from_ms.div_euclid(1000).max(0)).push(")");
            self.push(" AND ts <= toDateTime(").bind(filter.to_ms.div_euclid(1000).clamp(0, u32::MAX.into())).push(")");
        }
        self.push(" AND ts_ms >= ").bind(filter.from_ms);
        self.push(" AND ts_ms < ").bind(filter.to_ms);
        if let Some(model) = &filter.model {
            self.push(" AND model = ").bind(model.clone());
        }
        match filter.status {
            Some(StatusFilter::Ok) => self.push(" AND ok = 1"),
            Some(StatusFilter::Error) => self.push(" AND ok = 0"),
            None => self,
        }
    }

    /// ` AND ...`: only events strictly after `cursor` in `order` (after `filter`).
    pub fn after(&mut self, order: Order, cursor: Option<Cursor>) -> &mut Self {
        let Some(cursor) = cursor else { return self };
        let cmp = match order {
            Order::NewestFirst => "<",
            Order::OldestFirst => ">",
        };
        self.push(&format!(" AND (ts_ms {cmp} ")).bind(cursor.ts_ms);
        self.push(" OR (ts_ms = ").bind(cursor.ts_ms);
        self.push(&format!(" AND id {cmp} ")).bind(cursor.id.to_string()).push("))")
    }

    /// ` ORDER BY ...`: the keyset order `(ts_ms, id)`.
    pub fn order_by(&mut self, order: Order) -> &mut Self {
        self.push(match order {
            Order::NewestFirst => " ORDER BY ts_ms DESC, id DESC",
            Order::OldestFirst => " ORDER BY ts_ms ASC, id ASC",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{EventId, GatewayId};

    fn filter() -> EventFilter {
        EventFilter {
            gateway_id: GatewayId::new(),
            from_ms: 1_700_000_000_500,
            to_ms: 1_700_086_400_000,
            model: Some("gpt-4o".into()),
            status: Some(StatusFilter::Error),
        }
    }

    #[test]
    fn one_filter_is_rendered_per_backend() {
        let (filter, cursor) = (filter(), Cursor { ts_ms: 1_700_000_001_000, id: EventId::new() });
        let page = |dialect| {
            let mut sql = Statement::new(dialect, "SELECT id FROM request_events");
            sql.filter(&filter).after(Order::NewestFirst, Some(cursor)).order_by(Order::NewestFirst);
            sql
        };
        let where_clause = "WHERE gateway_id = {} AND ts_ms >= {} AND ts_ms < {} AND model = {} AND ok = 0 \
            AND (ts_ms < {} OR (ts_ms = {} AND id < {})) ORDER BY ts_ms DESC, id DESC";
        let numbered = (1..=7).fold(where_clause.to_string(), |text, n| text.replacen("{}", &format!("${n}"), 1));
        assert_eq!(page(Dialect::Postgres).text(), format!("SELECT id FROM request_events {numbered}"));
        assert_eq!(
            page(Dialect::Sqlite).text(),
            format!("SELECT id FROM request_events {}", where_clause.replace("{}", "?"))
        );
        assert_eq!(page(Dialect::Sqlite).binds(), page(Dialect::Postgres).binds());

        let clickhouse = page(Dialect::ClickHouse);
        assert!(clickhouse.text().contains("AND ts >= toDateTime(?) AND ts <= toDateTime(?) AND ts_ms >= ?"));
        assert_eq!(&clickhouse.binds()[1..3], [Bind::Int(1_700_000_000), Bind::Int(1_700_086_400)]);
        assert_eq!(clickhouse.binds().len(), page(Dialect::Sqlite).binds().len() + 2);
    }
}
