IF NOT EXISTS (SELECT 1 FROM sys.symmetric_keys WHERE name = '##MS_DatabaseMasterKey##')
    CREATE MASTER KEY ENCRYPTION BY PASSWORD = '<generated at publish>'
GO
IF NOT EXISTS (SELECT 1 FROM sys.database_scoped_credentials WHERE name = N'c360_identity')
    CREATE DATABASE SCOPED CREDENTIAL [c360_identity] WITH IDENTITY = 'Managed Identity'
GO
IF NOT EXISTS (SELECT 1 FROM sys.external_data_sources WHERE name = N'c360_lake')
    CREATE EXTERNAL DATA SOURCE [c360_lake] WITH (
        LOCATION = 'https://c360lake.dfs.core.windows.net/lake',
        CREDENTIAL = [c360_identity])
GO
IF SCHEMA_ID(N'c360') IS NULL
    EXEC(N'CREATE SCHEMA [c360]')
GO
IF DATABASE_PRINCIPAL_ID(N'c360_readers') IS NULL
    CREATE ROLE [c360_readers]
GO
GRANT SELECT ON SCHEMA::[c360] TO [c360_readers]
GO
GRANT REFERENCES ON DATABASE SCOPED CREDENTIAL::[c360_identity] TO [c360_readers]
GO
CREATE OR ALTER VIEW [c360].[AlternateKey] AS
SELECT r.[CustomerId], r.[DataSourceName], r.[TableName], r.[AlternateValue], r.[Identifier], r.[AlternateKeyId], r.[IsPrimary], r.[IsDeduplicationWinner]
FROM OPENROWSET(
    BULK 'curated/runs/<run>/AlternateKey/*.parquet',
    DATA_SOURCE = 'c360_lake',
    FORMAT = 'PARQUET'
) WITH (
        [CustomerId] varchar(36),
        [DataSourceName] varchar(16),
        [TableName] varchar(16),
        [AlternateValue] varchar(36),
        [Identifier] varchar(64),
        [AlternateKeyId] varchar(36),
        [IsPrimary] bit,
        [IsDeduplicationWinner] bit
    ) AS r
GO
CREATE OR ALTER VIEW [c360].[BrandAffinity] AS
SELECT r.[CustomerId], r.[Brand], r.[Lines], r.[Lift], r.[AffinityScore], r.[ShareOfVoice], r.[AffinityLevel]
FROM OPENROWSET(
    BULK 'curated/runs/<run>/BrandAffinity/*.parquet',
    DATA_SOURCE = 'c360_lake',
    FORMAT = 'PARQUET'
) WITH (
        [CustomerId] varchar(36),
        [Brand] varchar(16),
        [Lines] bigint,
        [Lift] float,
        [AffinityScore] bigint,
        [ShareOfVoice] float,
        [AffinityLevel] varchar(16)
    ) AS r
GO
CREATE OR ALTER VIEW [c360].[ConflationMatchPairs] AS
SELECT r.[Table1], r.[Key1], r.[Table2], r.[Key2], r.[Rule], r.[Score], r.[Linked]
FROM OPENROWSET(
    BULK 'curated/runs/<run>/ConflationMatchPairs/*.parquet',
    DATA_SOURCE = 'c360_lake',
    FORMAT = 'PARQUET'
) WITH (
        [Table1] varchar(16),
        [Key1] varchar(36),
        [Table2] varchar(16),
        [Key2] varchar(36),
        [Rule] varchar(36),
        [Score] float,
        [Linked] bit
    ) AS r
GO
CREATE OR ALTER VIEW [c360].[Customer] AS
SELECT r.[CustomerId], r.[PreviousCustomerId], r.[CustomerNumber], r.[FirstName], r.[LastName], r.[Street], r.[PostalCode], r.[City], r.[State], r.[Country], r.[Phone], r.[Email], r.[BirthDate], r.[ModifiedOn], r.[Gender], r.[DoNotEmail], r.[ERP_Customers_CustomerNo], r.[ERP_Customers_CustomerNo_Alternate], r.[CRM_Contacts_contactid], r.[CRM_Contacts_contactid_Alternate], r.[Ecommerce_Accounts_account_id], r.[Ecommerce_Accounts_account_id_Alternate], r.[POS_LoyaltyMembers_MemberId], r.[POS_LoyaltyMembers_MemberId_Alternate], r.[HouseholdId], r.[TotalSpend], r.[TransactionCount], r.[AverageOrderValue], r.[FirstPurchase], r.[LastPurchase], r.[TenureDays], r.[DaysSinceLastPurchase], r.[ReturnRate], r.[OnlineSpend], r.[StoreVisits90d], r.[LargestOrder], r.[FavouriteStoreChannel], r.[ExpectedPurchases], r.[ExpectedOrderValue], r.[LifetimeValue], r.[ProbabilityAlive], r.[IsHighValue], r.[BaselineLifetimeValue], r.[ChurnScore], r.[IsChurn], r.[TopBrand], r.[TopBrandAffinity], r.[TopBrandLevel], r.[RecencyScore], r.[FrequencyScore], r.[MonetaryScore], r.[RfmScore], r.[RfmSegment], r.[Segments]
FROM OPENROWSET(
    BULK 'curated/runs/<run>/Customer/*.parquet',
    DATA_SOURCE = 'c360_lake',
    FORMAT = 'PARQUET'
) WITH (
        [CustomerId] varchar(36),
        [PreviousCustomerId] varchar(4),
        [CustomerNumber] varchar(8),
        [FirstName] varchar(16),
        [LastName] varchar(16),
        [Street] varchar(64),
        [PostalCode] varchar(8),
        [City] varchar(16),
        [State] varchar(4),
        [Country] varchar(16),
        [Phone] varchar(16),
        [Email] varchar(64),
        [BirthDate] date,
        [ModifiedOn] datetime2(6),
        [Gender] varchar(4),
        [DoNotEmail] bit,
        [ERP_Customers_CustomerNo] varchar(8),
        [ERP_Customers_CustomerNo_Alternate] varchar(32),
        [CRM_Contacts_contactid] varchar(36),
        [CRM_Contacts_contactid_Alternate] varchar(128),
        [Ecommerce_Accounts_account_id] varchar(16),
        [Ecommerce_Accounts_account_id_Alternate] varchar(32),
        [POS_LoyaltyMembers_MemberId] varchar(8),
        [POS_LoyaltyMembers_MemberId_Alternate] varchar(16),
        [HouseholdId] varchar(36),
        [TotalSpend] float,
        [TransactionCount] bigint,
        [AverageOrderValue] float,
        [FirstPurchase] datetime2(6),
        [LastPurchase] datetime2(6),
        [TenureDays] bigint,
        [DaysSinceLastPurchase] bigint,
        [ReturnRate] float,
        [OnlineSpend] float,
        [StoreVisits90d] bigint,
        [LargestOrder] float,
        [FavouriteStoreChannel] varchar(16),
        [ExpectedPurchases] float,
        [ExpectedOrderValue] float,
        [LifetimeValue] float,
        [ProbabilityAlive] float,
        [IsHighValue] bit,
        [BaselineLifetimeValue] float,
        [ChurnScore] float,
        [IsChurn] bit,
        [TopBrand] varchar(16),
        [TopBrandAffinity] bigint,
        [TopBrandLevel] varchar(16),
        [RecencyScore] bigint,
        [FrequencyScore] bigint,
        [MonetaryScore] bigint,
        [RfmScore] varchar(4),
        [RfmSegment] varchar(32),
        [Segments] varchar(64)
    ) AS r
GO
CREATE OR ALTER VIEW [c360].[CustomerHistory] AS
SELECT r.[CustomerVersionId], r.[CustomerId], r.[CustomerNumber], r.[FirstName], r.[LastName], r.[Street], r.[PostalCode], r.[City], r.[State], r.[Country], r.[Phone], r.[Email], r.[BirthDate], r.[ModifiedOn], r.[Gender], r.[DoNotEmail], r.[ERP_Customers_CustomerNo], r.[ERP_Customers_CustomerNo_Alternate], r.[CRM_Contacts_contactid], r.[CRM_Contacts_contactid_Alternate], r.[Ecommerce_Accounts_account_id], r.[Ecommerce_Accounts_account_id_Alternate], r.[POS_LoyaltyMembers_MemberId], r.[POS_LoyaltyMembers_MemberId_Alternate], r.[HouseholdId], r.[RfmSegment], r.[Segments], r.[TopBrand], r.[IsHighValue], r.[IsChurn], r.[RowHash], r.[ValidFrom], r.[ValidTo], CAST(r.filepath(1) AS bit) AS [IsCurrent]
FROM OPENROWSET(
    BULK 'curated/runs/<run>/CustomerHistory/IsCurrent=*/*.parquet',
    DATA_SOURCE = 'c360_lake',
    FORMAT = 'PARQUET'
) WITH (
        [CustomerVersionId] varchar(36),
        [CustomerId] varchar(36),
        [CustomerNumber] varchar(8),
        [FirstName] varchar(16),
        [LastName] varchar(16),
        [Street] varchar(64),
        [PostalCode] varchar(8),
        [City] varchar(16),
        [State] varchar(4),
        [Country] varchar(16),
        [Phone] varchar(16),
        [Email] varchar(64),
        [BirthDate] date,
        [ModifiedOn] datetime2(6),
        [Gender] varchar(4),
        [DoNotEmail] bit,
        [ERP_Customers_CustomerNo] varchar(8),
        [ERP_Customers_CustomerNo_Alternate] varchar(32),
        [CRM_Contacts_contactid] varchar(36),
        [CRM_Contacts_contactid_Alternate] varchar(128),
        [Ecommerce_Accounts_account_id] varchar(16),
        [Ecommerce_Accounts_account_id_Alternate] varchar(32),
        [POS_LoyaltyMembers_MemberId] varchar(8),
        [POS_LoyaltyMembers_MemberId_Alternate] varchar(16),
        [HouseholdId] varchar(36),
        [RfmSegment] varchar(32),
        [Segments] varchar(64),
        [TopBrand] varchar(16),
        [IsHighValue] bit,
        [IsChurn] bit,
        [RowHash] varchar(32),
        [ValidFrom] datetime2(6),
        [ValidTo] datetime2(6)
    ) AS r
GO
CREATE OR ALTER VIEW [c360].[Deduplication_CRM_Contacts] AS
SELECT r.[SourceKey], r.[Deduplication_GroupId], r.[Deduplication_WinnerId], r.[Rule], r.[Score], r.[GroupSize]
FROM OPENROWSET(
    BULK 'curated/runs/<run>/Deduplication_CRM_Contacts/*.parquet',
    DATA_SOURCE = 'c360_lake',
    FORMAT = 'PARQUET'
) WITH (
        [SourceKey] varchar(36),
        [Deduplication_GroupId] varchar(36),
        [Deduplication_WinnerId] varchar(36),
        [Rule] varchar(36),
        [Score] float,
        [GroupSize] bigint
    ) AS r
GO
CREATE OR ALTER VIEW [c360].[Deduplication_ERP_Customers] AS
SELECT r.[SourceKey], r.[Deduplication_GroupId], r.[Deduplication_WinnerId], r.[Rule], r.[Score], r.[GroupSize]
FROM OPENROWSET(
    BULK 'curated/runs/<run>/Deduplication_ERP_Customers/*.parquet',
    DATA_SOURCE = 'c360_lake',
    FORMAT = 'PARQUET'
) WITH (
        [SourceKey] varchar(8),
        [Deduplication_GroupId] varchar(36),
        [Deduplication_WinnerId] varchar(8),
        [Rule] varchar(32),
        [Score] float,
        [GroupSize] bigint
    ) AS r
GO
CREATE OR ALTER VIEW [c360].[Deduplication_Ecommerce_Accounts] AS
SELECT r.[SourceKey], r.[Deduplication_GroupId], r.[Deduplication_WinnerId], r.[Rule], r.[Score], r.[GroupSize]
FROM OPENROWSET(
    BULK 'curated/runs/<run>/Deduplication_Ecommerce_Accounts/*.parquet',
    DATA_SOURCE = 'c360_lake',
    FORMAT = 'PARQUET'
) WITH (
        [SourceKey] varchar(16),
        [Deduplication_GroupId] varchar(36),
        [Deduplication_WinnerId] varchar(16),
        [Rule] varchar(32),
        [Score] float,
        [GroupSize] bigint
    ) AS r
GO
CREATE OR ALTER VIEW [c360].[Deduplication_POS_LoyaltyMembers] AS
SELECT r.[SourceKey], r.[Deduplication_GroupId], r.[Deduplication_WinnerId], r.[Rule], r.[Score], r.[GroupSize]
FROM OPENROWSET(
    BULK 'curated/runs/<run>/Deduplication_POS_LoyaltyMembers/*.parquet',
    DATA_SOURCE = 'c360_lake',
    FORMAT = 'PARQUET'
) WITH (
        [SourceKey] varchar(8),
        [Deduplication_GroupId] varchar(36),
        [Deduplication_WinnerId] varchar(8),
        [Rule] varchar(36),
        [Score] float,
        [GroupSize] bigint
    ) AS r
GO
CREATE OR ALTER VIEW [c360].[SegmentMembership] AS
SELECT r.[CustomerId], r.[SegmentProvider], r.[Segment], r.[SegmentMembershipType], r.[Identifier], r.[SegmentMembershipId]
FROM OPENROWSET(
    BULK 'curated/runs/<run>/SegmentMembership/*.parquet',
    DATA_SOURCE = 'c360_lake',
    FORMAT = 'PARQUET'
) WITH (
        [CustomerId] varchar(36),
        [SegmentProvider] varchar(4),
        [Segment] varchar(32),
        [SegmentMembershipType] varchar(8),
        [Identifier] varchar(128),
        [SegmentMembershipId] varchar(36)
    ) AS r
GO
CREATE OR ALTER VIEW [c360].[UnifiedActivity] AS
SELECT r.[CustomerId], r.[ActivityId], r.[DataSourceName], r.[SourceTableName], r.[SourceActivityId], r.[ActivityType], r.[ActivityTimeStamp], r.[OrderId], r.[Amount], r.[IsReturn], r.[ProductId], r.[ProductName], r.[Brand], r.[Quantity], CAST(r.filepath(1) AS int) AS [ActivityYear]
FROM OPENROWSET(
    BULK 'curated/runs/<run>/UnifiedActivity/ActivityYear=*/*.parquet',
    DATA_SOURCE = 'c360_lake',
    FORMAT = 'PARQUET'
) WITH (
        [CustomerId] varchar(36),
        [ActivityId] varchar(36),
        [DataSourceName] varchar(16),
        [SourceTableName] varchar(16),
        [SourceActivityId] varchar(16),
        [ActivityType] varchar(16),
        [ActivityTimeStamp] datetime2(6),
        [OrderId] varchar(16),
        [Amount] float,
        [IsReturn] bit,
        [ProductId] varchar(4),
        [ProductName] varchar(32),
        [Brand] varchar(16),
        [Quantity] bigint
    ) AS r
GO
