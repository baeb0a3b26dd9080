-- {{ params.table }} for {{ ds }}
SELECT * FROM {{ params.table }}
WHERE day BETWEEN '{{ macros.ds_add(ds, -6) }}' AND '{{ ds }}'
  AND region = '{{ region | shout }}'
