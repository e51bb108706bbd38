-- Run once by the postgres image on an empty data volume: one database per service.
CREATE DATABASE intake;
CREATE DATABASE review;
CREATE DATABASE notify;
