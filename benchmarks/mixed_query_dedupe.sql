QUALIFY row_number() OVER (PARTITION BY lead_id, id ORDER BY filename, file_row_number) = 1
