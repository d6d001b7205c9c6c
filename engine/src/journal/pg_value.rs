//! [`Value`]s to and from PostgreSQL's wire types. A parameter is encoded as the type the
//! server inferred for it (an integer sent where a text is expected becomes its digits), so
//! the journal's SQL needs no casts; a column is read by its type, `numeric` (what `sum`
//! of a `bigint` returns) included.

use std::error::Error;

use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

use super::sql::Value;

type BoxError = Box<dyn Error + Sync + Send>;

/// A parameter for tokio-postgres.
#[derive(Debug)]
pub(super) struct PgParam(pub(super) Value);

impl ToSql for PgParam {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut tokio_postgres::types::private::BytesMut,
    ) -> Result<IsNull, BoxError> {
        let text_like = matches!(
            *ty,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
        );
        match &self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::FLOAT4 => (*i as f32).to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::NUMERIC => put_numeric(&i.to_string(), out),
                _ if text_like => i.to_string().to_sql(ty, out),
                _ => Err(format!("an integer cannot be sent as {ty}").into()),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                Type::INT8 if f.fract() == 0.0 => (*f as i64).to_sql(ty, out),
                Type::NUMERIC if f.is_finite() => put_numeric(&f.to_string(), out),
                _ if text_like => f.to_string().to_sql(ty, out),
                _ => Err(format!("a number cannot be sent as {ty}").into()),
            },
            Value::Text(t) => match *ty {
                Type::INT8 => t.trim().parse::<i64>()?.to_sql(ty, out),
                Type::INT4 => t.trim().parse::<i32>()?.to_sql(ty, out),
                Type::FLOAT8 => t.trim().parse::<f64>()?.to_sql(ty, out),
                Type::BYTEA => t.as_bytes().to_sql(ty, out),
                _ => t.as_str().to_sql(ty, out),
            },
            Value::Blob(b) => match *ty {
                Type::BYTEA => b.as_slice().to_sql(ty, out),
                _ => String::from_utf8(b.clone())?.to_sql(ty, out),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A decimal number (`-12.5`, as Rust prints an integer or a finite float) in PostgreSQL's
/// binary `numeric`: base-10000 digit groups around the decimal point.
fn put_numeric(
    text: &str,
    out: &mut tokio_postgres::types::private::BytesMut,
) -> Result<IsNull, BoxError> {
    let (negative, text) = match text.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, text),
    };
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return Err(format!("{text:?} is not a decimal number").into());
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let pad_int = format!("{}{int}", "0".repeat((4 - int.len() % 4) % 4));
    let pad_frac = format!("{frac}{}", "0".repeat((4 - frac.len() % 4) % 4));
    let group = |s: &str| -> Vec<i16> {
        s.as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap_or("0").parse().unwrap_or(0))
            .collect()
    };
    let mut digits = group(&pad_int);
    let mut weight = digits.len() as i16 - 1;
    digits.extend(group(&pad_frac));
    while digits.first() == Some(&0) {
        digits.remove(0);
        weight -= 1;
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }
    if digits.is_empty() {
        weight = 0;
    }
    let mut put = |v: i16| out.extend_from_slice(&v.to_be_bytes());
    put(digits.len() as i16);
    put(weight);
    put(if negative && !digits.is_empty() {
        0x4000
    } else {
        0
    });
    put(frac.len() as i16);
    for d in digits {
        put(d);
    }
    Ok(IsNull::No)
}

/// A column read as a [`Value`].
struct PgColumn(Value);

impl<'a> FromSql<'a> for PgColumn {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(PgColumn(match *ty {
            Type::BOOL => Value::Integer(bool::from_sql(ty, raw)? as i64),
            Type::INT2 => Value::Integer(i16::from_sql(ty, raw)?.into()),
            Type::INT4 => Value::Integer(i32::from_sql(ty, raw)?.into()),
            Type::INT8 => Value::Integer(i64::from_sql(ty, raw)?),
            Type::OID => Value::Integer(u32::from_sql(ty, raw)?.into()),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::NUMERIC => numeric(raw)?,
            Type::BYTEA => Value::Blob(raw.to_vec()),
            _ => Value::Text(String::from_utf8(raw.to_vec())?),
        }))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(PgColumn(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// PostgreSQL's binary `numeric`: digit count, weight, sign, scale, then base-10000 digits.
/// An integral value is an integer (as SQLite's `sum`), anything else a real.
fn numeric(raw: &[u8]) -> Result<Value, BoxError> {
    let word = |i: usize| -> Result<i16, BoxError> {
        let b = raw.get(i * 2..i * 2 + 2).ok_or("short numeric")?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    };
    let (ndigits, weight, sign, scale) = (word(0)?, word(1)?, word(2)? as u16, word(3)?);
    if sign == 0xC000 {
        return Ok(Value::Real(f64::NAN));
    }
    let mut int: i128 = 0;
    let mut real: f64 = 0.0;
    let mut integral = true;
    for k in 0..ndigits.max(0) as usize {
        let d = word(4 + k)? as i128;
        let power = weight as i32 - k as i32;
        real += d as f64 * 10000f64.powi(power);
        if power >= 0 {
            int += d * 10000i128
                .checked_pow(power as u32)
                .ok_or("numeric too large")?;
        } else if d != 0 {
            integral = false;
        }
    }
    let negative = sign == 0x4000;
    if integral && scale >= 0 {
        let v = if negative { -int } else { int };
        if let Ok(v) = i64::try_from(v) {
            return Ok(Value::Integer(v));
        }
    }
    Ok(Value::Real(if negative { -real } else { real }))
}

/// A row's columns as [`Value`]s.
pub(super) fn row_values(row: &tokio_postgres::Row) -> Result<Vec<Value>, tokio_postgres::Error> {
    (0..row.len())
        .map(|i| row.try_get::<_, PgColumn>(i).map(|c| c.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_sums_read_as_integers_and_fractions_as_reals() {
        // 12345678: digits 1234, 5678 with weight 1.
        let raw = [0, 2, 0, 1, 0, 0, 0, 0, 0x04, 0xD2, 0x16, 0x2E];
        assert_eq!(numeric(&raw).unwrap(), Value::Integer(12_345_678));
        // -1.5: digits 1, 5000 with weight 0, negative, scale 1.
        let raw = [0, 2, 0, 0, 0x40, 0, 0, 1, 0, 1, 0x13, 0x88];
        assert_eq!(numeric(&raw).unwrap(), Value::Real(-1.5));
        // 0: no digits.
        assert_eq!(
            numeric(&[0, 0, 0, 0, 0, 0, 0, 0]).unwrap(),
            Value::Integer(0)
        );
    }
}
