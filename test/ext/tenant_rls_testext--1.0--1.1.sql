ALTER TABLE etr_xmember RENAME TO etr_xmember_r;
